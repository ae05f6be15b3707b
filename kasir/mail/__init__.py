"""E-mailed receipts: the shop's SMTP settings, the SMTP client, and the outbox a job sends from."""
