"""Write a jar that holds only a manifest: Main-Class plus a Class-Path of every jar in a folder.

Beam's FlinkRunner starts its job server with ``java -jar <jar>``; Maven Central as served here has no
shaded job-server jar, so this one points at the jars ``mvn dependency:copy-dependencies`` put beside it.

    python java/pathing_jar.py <folder of jars> <main class> <output jar>
"""

from __future__ import annotations

import os
import sys
import zipfile


def manifest(main_class: str, class_path: list[str]) -> bytes:
    text = f"Manifest-Version: 1.0\r\nMain-Class: {main_class}\r\nClass-Path: {' '.join(class_path)}\r\n"
    lines = []
    for line in text.split("\r\n"):
        raw = line.encode()
        lines.append(raw[:72])
        lines += [b" " + raw[i : i + 71] for i in range(72, len(raw), 71)]  # continuation lines
    return b"\r\n".join(lines) + b"\r\n"


def main(folder: str, main_class: str, out: str) -> None:
    base = os.path.dirname(os.path.abspath(out))
    jars = sorted(os.path.relpath(os.path.join(folder, f), base) for f in os.listdir(folder) if f.endswith(".jar"))
    with zipfile.ZipFile(out, "w") as jar:
        jar.writestr("META-INF/MANIFEST.MF", manifest(main_class, jars))


if __name__ == "__main__":
    main(*sys.argv[1:4])
