"""One run from settings to verdict: session, results, reports, parallel workers, progress."""
