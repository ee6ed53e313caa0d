"""Finding hot paths in whole programs: Scalene runs, argument capture, running with winners.

``hotpath profile`` (``scalene``, ``rewritable``, ``model``), ``hotpath optimize`` (``pick``,
``capture``, ``session``, ``optimize``), ``hotpath run`` (``hooks``, ``runscript``) and
``hotpath bench`` (``bench``); the commands themselves are in ``cli``.
"""
