"""The engine: how a GraphQL request becomes SQL and a response, for any domain.

It knows no entity. Domains (``schema/<domain>.py``, ``resolvers/<domain>.py``) declare
what it needs: row types (``engine.types.RowType`` with their entity), relation fields
(``engine.relations``), loaders over their models (``engine.loaders``). The engine imports
nothing from ``schema``, ``resolvers`` or ``models``; ``docs/architecture.md`` draws the
seam.
"""
