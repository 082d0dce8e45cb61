"""Accounts: signing in on the pages, API tokens, and who may use the service without either."""
