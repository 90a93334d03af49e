"""Small builders for datasets that tests corrupt on purpose."""

import io
from pathlib import Path

from PIL import Image

from bench.data.store import SampleRecord, write_dataset
from bench.data.schema import LexiconEntry

WORDS = [("apple", "苹果", "manzana"), ("water", "水", "agua"), ("house", "房子", "casa")]


def png(width=40, height=20, value=0) -> bytes:
    buf = io.BytesIO()
    Image.new("L", (width, height), value).save(buf, format="PNG")
    return buf.getvalue()


def tiny_records():
    records = []
    for sid, forms in enumerate(WORDS):
        for lang, text in zip(("en", "zh", "es"), forms):
            for split in ("train", "test_id", "test_ood"):
                records.append(SampleRecord(f"{lang}-{sid}-{split}", png(30 + sid, 20, 10 * sid), text,
                                            sid, lang, "ood-style" if split == "test_ood" else "id-style",
                                            split))
    lexicon = [LexiconEntry(sid, lang, text) for sid, forms in enumerate(WORDS)
               for lang, text in zip(("en", "zh", "es"), forms)]
    return records, lexicon


def write_tiny(path: Path, records=None, lexicon=None) -> Path:
    r, l = tiny_records()
    write_dataset(path, "tiny", records if records is not None else r, lexicon if lexicon is not None else l)
    return path


def rewrite_samples(path: Path, change) -> None:
    """Rewrite samples.parquet with ``change(table) -> table``, as a foreign tool would."""
    import pyarrow.parquet as pq

    file = path / "samples.parquet"
    pq.write_table(change(pq.read_table(file)), file)


def set_cell(path: Path, column: str, row: int, value) -> None:
    """Overwrite one cell of samples.parquet, leaving the manifest as it was."""
    import pyarrow as pa

    def change(table):
        values = table.column(column).to_pylist()
        values[row] = value
        return table.set_column(table.schema.get_field_index(column), column, pa.array(values))

    rewrite_samples(path, change)


def plugin_site(folder: Path, module: str, source: str, entry_points: dict[str, str]) -> Path:
    """A folder that, on PYTHONPATH, installs ``module`` as a distribution registering adapters
    through the ``hwr_bench.adapters`` entry point group (as a pip-installed plugin would)."""
    dist = module.replace("_", "-")
    info = folder / f"{module}-0.1.dist-info"
    info.mkdir(parents=True)
    (folder / f"{module}.py").write_text(source)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[hwr_bench.adapters]\n" + "".join(f"{name} = {target}\n" for name, target in entry_points.items()))
    return folder
