"""What the API does: queries, the rules of the contract, the unit of work, loaders, access."""
