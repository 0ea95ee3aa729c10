"""Training: turning a corpus into checkpoints.

Owns the training job (``train``), the device and its precision (``device``), the callback
that writes history, status and checkpoints (``monitor``), ``tf.distribute`` and the local
cluster (``distributed``, ``cluster``), background jobs the app starts and stops (``jobs``),
the per-checkpoint report the job writes (``report``: samples and measures of a checkpoint)
and the shipped gallery runs (``gallery``).

May import: every package before it: the basics, ``corpus``, ``encodings``, ``render``,
``runs``, ``models``, ``evaluation``, ``generation``.
"""
