"""Offline analysis of a run directory: its files, its Neo recordings, figures and a report.

Nothing here imports a simulator; see ``docs/recordings.md`` for what a run directory holds.
"""
