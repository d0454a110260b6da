"""stpc's tapset library (``.stp`` files, package data): what
compiler/tapsets.py searches first."""
