"""``digitlab data``: look at a dataset, plot it, import or download its files."""

from __future__ import annotations

import re
from pathlib import Path

import click

from ._app import cli
from ._common import (
    cache_dir_option,
    console,
    data_dir_option,
    json_option,
    markup,
    print_json,
    safe,
    show_progress,
)


@cli.group()
def data():
    """Inspect, plot, download and import datasets.

    \b
    NAME is mnist, fashion-mnist, digits, or a path: a folder of the four
    IDX files, a label,pixel1..pixelN CSV, or a folder of class sub-folders.
    """


header_option = click.option(
    "--header", type=click.Choice(["auto", "yes", "no"]), default="auto", show_default=True,
    help="For a CSV: is the first line a header? auto = yes when its first cell is not a number.",
)


def _load(name, data_dir, cache_dir, header="auto"):
    from .. import datasets

    return datasets.load(name, data_dir=data_dir, cache_dir=cache_dir, progress=show_progress(),
                         header=header, download=True)


def info_dict(ds) -> dict:
    out = {
        "name": ds.name, "source": ds.source, "shape": list(ds.shape), "dtype": str(ds.images.dtype),
        "n_samples": len(ds), "classes": list(ds.classes), "memory_bytes": ds.nbytes,
        "checksums": ds.checksums, "checksum_verified": ds.verified,
    }
    if ds.n_train is not None:
        split = ds.train_test()
        out["splits"] = {p: {"n": len(d), "class_counts": d.class_counts().tolist()}
                         for p, d in (("train", split.train), ("test", split.test))}
    else:
        out["splits"] = {"all": {"n": len(ds), "class_counts": ds.class_counts().tolist()}}
    return out


@data.command()
@click.argument("name")
@data_dir_option
@cache_dir_option
@header_option
@json_option
def info(name, data_dir, cache_dir, header, as_json):
    """Shape, dtype, class counts, memory, source and checksum status of NAME.

    \b
    Example:
      digitlab data info mnist --json
      digitlab data info train.csv --header yes
    """
    ds = _load(name, data_dir, cache_dir, header)
    d = info_dict(ds)
    if as_json:
        print_json(d)
        return
    from rich.table import Table

    con = console()
    h, w = ds.shape
    con.print(f"[bold]{markup(ds.name)}[/]  {len(ds):,} images, {h}×{w} {d['dtype']}, "
              f"{len(ds.classes)} classes, {ds.nbytes / 2**20:.1f} MiB in memory")
    con.print(f"source: {markup(ds.source)}")
    status = "verified against the registry" if ds.verified else "recorded (no registry checksum for this data)"
    con.print(f"checksums: {status}")
    table = Table("class", *d["splits"].keys(), title="Images per class")
    for i, c in enumerate(ds.classes):
        table.add_row(markup(c), *(f"{s['class_counts'][i]:,}" for s in d["splits"].values()))
    table.add_row("[bold]total[/]", *(f"[bold]{s['n']:,}[/]" for s in d["splits"].values()))
    con.print(table)


def _parse_grid(ctx, param, value):
    m = re.fullmatch(r"(\d+)x(\d+)", value or "")
    if not m or not (0 < int(m[1]) <= 30 and 0 < int(m[2]) <= 30):
        raise click.BadParameter(f"expected ROWSxCOLS such as 5x5 (each 1–30), got {value!r}")
    return int(m[1]), int(m[2])


@data.command()
@click.argument("name")
@click.option("--split", type=click.Choice(["train", "test", "all"]), default="train", show_default=True,
              help="Which part of the dataset to show.")
@click.option("--grid", default="5x5", show_default=True, callback=_parse_grid, help="Rows x columns.")
@click.option("--index", "indices", type=int, multiple=True,
              help="Show these image indices (repeatable), instead of the first ones.")
@click.option("--label", type=int, default=None, help="Only images of this class index.")
@click.option("--seed", type=int, default=None, help="Pick images at random with this seed.")
@click.option("-o", "--out", type=click.Path(dir_okay=False), default=None,
              help="PNG to write; - for standard output [default: <name>-digits.png].")
@data_dir_option
@cache_dir_option
@header_option
def show(name, split, grid, indices, label, seed, out, data_dir, cache_dir, header):
    """Draw a grid of digits with their labels to a PNG.

    \b
    Example:
      digitlab data show mnist --grid 5x5 --label 5 --out fives.png
    """
    from ..exceptions import ParameterError
    from ..plots import DigitGridDisplay, save_figure

    ds = _load(name, data_dir, cache_dir, header)
    part = ds if split == "all" or ds.n_train is None else getattr(ds.train_test(), split)
    if label is not None and not 0 <= label < len(part.classes):
        raise ParameterError(f"--label: must be a class index 0–{len(part.classes) - 1}, got {label}")
    if indices:
        bad = [i for i in indices if not 0 <= i < len(part)]
        if bad:
            raise ParameterError(f"--index: {bad[0]} is outside 0–{len(part) - 1}")
    title = f"{ds.name} ({part.split})" + (f", class {part.classes[label]}" if label is not None else "")
    disp = DigitGridDisplay.from_dataset(part, index=list(indices) or None, grid=grid, label=label,
                                         seed=seed, suptitle=title).plot()
    _wrote(save_figure(disp.figure_, out or f"{Path(ds.name).name}-digits.png"))


@data.command()
@click.argument("name")
@click.option("-o", "--out", type=click.Path(dir_okay=False), default=None,
              help="PNG to write; - for standard output [default: <name>-classes.png].")
@data_dir_option
@cache_dir_option
@header_option
def hist(name, out, data_dir, cache_dir, header):
    """Plot the class distribution of train and test side by side.

    \b
    Example:
      digitlab data hist mnist --out classes.png
    """
    from ..plots import ClassDistributionDisplay, save_figure

    ds = _load(name, data_dir, cache_dir, header)
    split = ds.train_test()
    disp = ClassDistributionDisplay.from_split(split, title=f"{ds.name}: class distribution").plot()
    _wrote(save_figure(disp.figure_, out or f"{Path(ds.name).name}-classes.png"))


def _wrote(path) -> None:
    from .._atomic import is_stdout

    if not is_stdout(path):  # else stdout is the PNG
        click.echo(f"wrote {safe(path)}")


@data.command(name="import")
@click.argument("path", type=click.Path())
@click.option("--name", type=click.Choice(["mnist", "fashion-mnist"]), default="mnist", show_default=True,
              help="Which dataset the files are.")
@cache_dir_option
def import_(path, name, cache_dir):
    """Verify the four IDX files in folder PATH and copy them into the cache.

    For machines without internet: copy the files over by hand, import them once,
    and every later command finds them.

    \b
    Example:
      digitlab data import ~/Downloads/mnist
    """
    from .. import datasets

    paths = datasets.import_idx(path, name, cache_dir=cache_dir)
    click.echo(f"imported {len(paths)} verified files into {safe(Path(next(iter(paths.values()))).parent)}")


@data.command()
@click.argument("name", type=click.Choice(["mnist", "fashion-mnist"]))
@cache_dir_option
def fetch(name, cache_dir):
    """Download NAME into the cache (checksums verified), if not there yet.

    \b
    Example:
      digitlab data fetch mnist
    """
    from .. import datasets

    paths = datasets.fetch(name, cache_dir=cache_dir, progress=show_progress())
    click.echo(f"{name}: {len(paths)} verified files in {safe(Path(next(iter(paths.values()))).parent)}")
