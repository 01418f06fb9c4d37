"""The exceptions slicescope raises.

Every error is a :class:`SlicescopeError`; its subclasses say what went wrong,
with the same message the command-line tool prints::

    SlicescopeError
    ├── ColumnNotFoundError     a column the scan needs is not in the data
    ├── ShapeError              lengths or dimensions that must agree do not
    ├── InvalidInputError       NaN/infinite values, unusable column types
    ├── InvalidParameterError   a parameter or config key out of range or unknown
    ├── NoDataError             no rows, or none usable
    ├── FileError               a file cannot be read or written
    └── FormatError             a file's content is not in its format

Ctrl-C during a scan raises :class:`KeyboardInterrupt`. Wrong argument types
raise :class:`TypeError`.

Examples
--------
>>> import slicescope
>>> issubclass(slicescope.ColumnNotFoundError, slicescope.SlicescopeError)
True
"""

from slicescope._core import (
    ColumnNotFoundError,
    FileError,
    FormatError,
    InvalidInputError,
    InvalidParameterError,
    NoDataError,
    ShapeError,
    SlicescopeError,
)

__all__ = [
    "SlicescopeError",
    "ColumnNotFoundError",
    "ShapeError",
    "InvalidInputError",
    "InvalidParameterError",
    "NoDataError",
    "FileError",
    "FormatError",
]
