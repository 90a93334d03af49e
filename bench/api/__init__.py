"""What a method imports from the harness (filled in by the next commits)."""
