"""The nightly digest: one mail per person for each of their local days, at most once."""
