{# The end-of-run loops over the sorted entries of an array the script
   wrote but never read (compiler/endprint.py renders them into the
   body of the unread-globals handler). #}
{% macro print_array(m, buf, line, args) %}
{
	unsigned int i, n;
	n = stpc_map_sorted({{ m }}, l->{{ buf }}, 0, -1);
	for (i = 0; i < n; i++) {
		struct stpc_map_entry *e = l->{{ buf }}[i];
		stpc_printf(c, {{ line }}, {{ args }});
	}
}
{%- endmacro %}
{% macro print_stat_array(sm, buf, line, args) %}
{
	unsigned int i, n;
	struct stpc_map *m = stpc_stat_map_aggregate(c, {{ sm }}, NULL);
	n = stpc_map_sorted_by(m, l->{{ buf }}, 0, -1, STPC_STAT_COUNT);
	for (i = 0; i < n; i++) {
		struct stpc_map_entry *e = l->{{ buf }}[i];
		struct stpc_stat_record *r = stpc_value_stat(m, e);
		stpc_printf(c, {{ line }}, {{ args }});
	}
}
{%- endmacro %}
