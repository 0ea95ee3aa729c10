"""Models: what a network is and how it runs.

Owns the JSON-able model configuration (``config``: one ``Preset`` per architecture), the Keras
builders and safe loading (``presets``), the biaxial RNN and the C-RNN-GAN (``biaxial``,
``crnngan``), the NumPy step-by-step forms every generator and the held-out likelihood use
(``inference``), and the arrays a model trains on (``batches``: whole pieces, windows, and
consecutive windows with the state carried).

May import: the basics at the top of ``core`` (``piece``, ``atomic``, ``paths``, ``notes``,
``settings``), ``corpus``, ``encodings``, ``render``, ``runs``. Nothing of ``evaluation``,
``generation``, ``training`` or ``cli``.
"""
