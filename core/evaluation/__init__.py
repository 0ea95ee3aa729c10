"""Evaluation: numbers about music and about models.

Owns the piece-level measures (``metrics``: copy rate and the corpus index, loop rate, pitch
statistics; ``music_measures``: the C-RNN-GAN paper's four), the n-gram baseline (``ngram``),
the one held-out likelihood (``likelihood``: a stateful pass over each whole piece) and the
loaded run every reader shares (``loaded``: a run's split, sequences, copy index, baseline).

May import: the basics, ``corpus``, ``encodings``, ``render``, ``runs``, ``models``.
"""
