"""Payments: the state machine, the one service that changes a payment's state, and the providers."""
