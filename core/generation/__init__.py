"""Generation: new music from a trained model.

Owns token draws and the anti-loop guard (``sampling``), primers and the ``Result`` type
(``primers``), the token generator (``generate``) and the C-RNN-GAN's step generator
(``generate_steps``), composing a result into MIDI, audio and measures (``compose``), and the
pool of results made ahead while the app is idle (``pool``; plain Python, imported by the
app's entry point, so this package's ``__init__`` stays empty).

May import: the basics, ``corpus``, ``encodings``, ``render``, ``runs``, ``models``,
``evaluation``.
"""
