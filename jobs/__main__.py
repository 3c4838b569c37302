"""The one launcher, for spark-submit and for an installed wheel:

    spark-submit [--py-files webinstruct.zip] jobs/__main__.py STAGE [options]
    python -m webinstruct.jobs STAGE [options]

It imports the package by its installed name (a wheel, or the zip on --py-files), never
by path, so a cluster runs exactly the code that was shipped.
"""

from webinstruct.jobs.cli import entry

if __name__ == "__main__":
    raise SystemExit(entry())
