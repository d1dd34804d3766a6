"""Structured debriefs after every activity: versioned templates, one reason-code codebook, tasks, insight."""
