"""Local development only (``order-api serve``): needs the ``[local]`` extra, never in Lambda."""
