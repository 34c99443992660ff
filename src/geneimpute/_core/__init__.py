"""Array-level building blocks shared by every layer (no AnnData inside).

Neighbour search (:mod:`.neighbors`), promoter encoding (:mod:`.sequence`), tissue
correlations (:mod:`.correlation`), metrics (:mod:`.metrics`), the one torch training loop
(:mod:`.training`) and atomic file writes (:mod:`.io`). ``pp``, ``tl``, ``pl`` and ``models``
import these; nothing here imports ``pp``, ``tl``, ``pl``, ``models`` or anndata.
"""
