"""The measuring tools: how good is a capture's model, and how good is a sampler?

Everything here reads a capture (or ``panama train``'s OUTDIR) and writes measurements beside
it; the capture store and training never import it (``tests/test_layout.py`` checks), and the
loop only asks ``setting_esr`` for the expected ESR of the ``default.nam`` it exports.
``heldout`` scores a model at settings it never saw (``panama evaluate``), ``comparison`` runs
samplers against each other (``panama compare``), ``report_html`` and ``report_rounds`` draw
the page (``panama report``), and ``setting_esr`` answers "what ESR to expect at this setting"
for exported snapshots. Import the module you need: this package imports nothing itself.
"""
