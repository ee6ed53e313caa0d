"""From a function object to candidate variants: source extraction, analysis, proposals."""
