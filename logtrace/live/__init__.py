"""Following logs as they are written: tail -F, rolling windows, traces as they complete."""
