import logging

logger = logging.getLogger("geneimpute")
logger.addHandler(logging.NullHandler())
