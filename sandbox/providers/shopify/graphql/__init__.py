"""Simulated Shopify GraphQL Admin API: schema subset, cost, resolvers, the endpoint."""
