"""Identity: patient accounts and profiles, staff accounts, sessions, and encryption at rest."""
