"""Things Murmur keeps between sessions (recent dictations)."""
