"""Array-level building blocks that ``pp``, ``tl``, ``pl`` and ``models`` share (no AnnData)."""
