"""Pieces every capability uses: settings, clock, ids, problems."""
