/*
 * The program of the process.begin/.end VM cases (tests/vmcases.py):
 * it forks a child that exits at once without exec'ing (a new process
 * running the same file), waits for it, then execs /bin/true (leaving
 * the file: its process("PATH").end).
 */
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
	pid_t child = fork();

	if (child == 0)
		_exit(3);
	waitpid(child, NULL, 0);
	execl("/bin/true", "true", (char *)NULL);
	return 1;
}
