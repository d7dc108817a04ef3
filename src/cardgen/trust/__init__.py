"""Reading what cardgen did not write and writing what it does, safely: bounded readers of
untrusted files and links kept inside their directory (``untrusted``), atomic writes
(``atomic``), and Hub tokens kept out of output (``secrets``). Imports only ``errors``.
"""
