"""A minimal LV2 host on Debian's liblilv through ctypes: find a plugin, read its ports, run it.

Why ctypes: there is no maintained LV2 host on PyPI, and ``liblilv-0-0`` is the library every
Linux LV2 host (jalv, Ardour, Carla) uses. The host offers the features amp plugins commonly
require: ``urid:map``/``urid:unmap`` (GxAmplifier-X refuses to load without them), a
synchronous ``worker:schedule`` (work runs at once, responses are delivered after ``run``, as
jalv does when it is not threaded), ``buf-size:boundedBlockLength`` and ``options:options``
with the block length and sample rate.

Only audio ports carry data; atom ports get an empty sequence each block, control outputs get
a float each. This module knows nothing about knobs or PANAMA; ``panama.amps.lv2`` does.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from panama.core.errors import PanamaError

LV2 = "http://lv2plug.in/ns/lv2core#"
ATOM = "http://lv2plug.in/ns/ext/atom#"
URID = "http://lv2plug.in/ns/ext/urid#"
WORKER = "http://lv2plug.in/ns/ext/worker#"
OPTIONS = "http://lv2plug.in/ns/ext/options#"
BUF_SIZE = "http://lv2plug.in/ns/ext/buf-size#"
PARAMETERS = "http://lv2plug.in/ns/ext/parameters#"
UNITS = "http://lv2plug.in/ns/extensions/units#"
PORT_PROPS = "http://lv2plug.in/ns/ext/port-props#"

ATOM_BUFFER_BYTES = 8192

# LV2 unit URIs → what a user reads next to a knob.
UNIT_SYMBOLS = {
    "db": "dB", "hz": "Hz", "khz": "kHz", "mhz": "MHz", "ms": "ms", "s": "s", "min": "min",
    "pc": "%", "bpm": "BPM", "cent": "cents", "semitone12TET": "semitones", "oct": "octaves",
    "degree": "°", "m": "m", "cm": "cm", "mm": "mm", "km": "km", "inch": "in", "mile": "mi",
    "frame": "frames", "beat": "beats", "bar": "bars", "midiNote": "note", "coef": "",
}

_library: ctypes.CDLL | None = None


def library() -> ctypes.CDLL:
    """Load liblilv once, with argument types declared (a missing library is a PanamaError)."""
    global _library
    if _library is not None:
        return _library
    name = ctypes.util.find_library("lilv-0") or "liblilv-0.so.0"
    try:
        lib = ctypes.CDLL(name)
    except OSError:
        raise PanamaError(
            "the LV2 host library liblilv is not installed",
            "install it, e.g. `apt-get install liblilv-0-0` (and the plugins, e.g. guitarix-lv2)",
        ) from None
    p, u32, b = ctypes.c_void_p, ctypes.c_uint32, ctypes.c_bool
    signatures: dict[str, tuple[Any, list[Any]]] = {
        "lilv_world_new": (p, []),
        "lilv_world_free": (None, [p]),
        "lilv_world_load_all": (None, [p]),
        "lilv_world_get_all_plugins": (p, [p]),
        "lilv_world_get": (p, [p, p, p, p]),
        "lilv_new_uri": (p, [p, ctypes.c_char_p]),
        "lilv_node_free": (None, [p]),
        "lilv_node_as_string": (ctypes.c_char_p, [p]),
        "lilv_node_as_float": (ctypes.c_float, [p]),
        "lilv_node_is_uri": (b, [p]),
        "lilv_node_is_blank": (b, [p]),
        "lilv_node_is_float": (b, [p]),
        "lilv_node_is_int": (b, [p]),
        "lilv_node_is_literal": (b, [p]),
        "lilv_plugins_get_by_uri": (p, [p, p]),
        "lilv_plugins_begin": (p, [p]),
        "lilv_plugins_next": (p, [p, p]),
        "lilv_plugins_is_end": (b, [p, p]),
        "lilv_plugins_get": (p, [p, p]),
        "lilv_plugin_get_uri": (p, [p]),
        "lilv_plugin_get_name": (p, [p]),
        "lilv_plugin_get_num_ports": (u32, [p]),
        "lilv_plugin_get_port_by_index": (p, [p, u32]),
        "lilv_plugin_get_required_features": (p, [p]),
        "lilv_plugin_instantiate": (p, [p, ctypes.c_double, p]),
        "lilv_instance_free": (None, [p]),
        "lilv_nodes_begin": (p, [p]),
        "lilv_nodes_next": (p, [p, p]),
        "lilv_nodes_is_end": (b, [p, p]),
        "lilv_nodes_get": (p, [p, p]),
        "lilv_nodes_free": (None, [p]),
        "lilv_port_is_a": (b, [p, p, p]),
        "lilv_port_has_property": (b, [p, p, p]),
        "lilv_port_get_symbol": (p, [p, p]),
        "lilv_port_get_name": (p, [p, p]),
        "lilv_port_get": (p, [p, p, p]),
        "lilv_port_get_range": (None, [p, p, ctypes.POINTER(p), ctypes.POINTER(p), ctypes.POINTER(p)]),
    }
    for fname, (restype, argtypes) in signatures.items():
        fn = getattr(lib, fname)
        fn.restype = restype
        fn.argtypes = argtypes
    _library = lib
    return lib


# -- C structures --------------------------------------------------------------------------
class LV2Feature(ctypes.Structure):
    _fields_ = [("URI", ctypes.c_char_p), ("data", ctypes.c_void_p)]


MapFn = ctypes.CFUNCTYPE(ctypes.c_uint32, ctypes.c_void_p, ctypes.c_char_p)
UnmapFn = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p, ctypes.c_uint32)
RespondFn = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_uint32, ctypes.c_void_p)
ScheduleFn = RespondFn  # same C signature: (handle, size, data) -> status


class URIDMap(ctypes.Structure):
    _fields_ = [("handle", ctypes.c_void_p), ("map", MapFn)]


class URIDUnmap(ctypes.Structure):
    _fields_ = [("handle", ctypes.c_void_p), ("unmap", UnmapFn)]


class WorkerSchedule(ctypes.Structure):
    _fields_ = [("handle", ctypes.c_void_p), ("schedule_work", ScheduleFn)]


WorkFn = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, RespondFn, ctypes.c_void_p, ctypes.c_uint32, ctypes.c_void_p)
WorkResponseFn = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_uint32, ctypes.c_void_p)
EndRunFn = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p)


class WorkerInterface(ctypes.Structure):
    _fields_ = [("work", WorkFn), ("work_response", WorkResponseFn), ("end_run", EndRunFn)]


class Option(ctypes.Structure):
    _fields_ = [
        ("context", ctypes.c_uint32), ("subject", ctypes.c_uint32), ("key", ctypes.c_uint32),
        ("size", ctypes.c_uint32), ("type", ctypes.c_uint32), ("value", ctypes.c_void_p),
    ]


InstantiateFn = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p, ctypes.c_double, ctypes.c_char_p, ctypes.c_void_p)
ConnectFn = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_uint32, ctypes.c_void_p)
HandleFn = ctypes.CFUNCTYPE(None, ctypes.c_void_p)
RunFn = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_uint32)
ExtensionDataFn = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_char_p)


class LV2Descriptor(ctypes.Structure):
    _fields_ = [
        ("URI", ctypes.c_char_p), ("instantiate", InstantiateFn), ("connect_port", ConnectFn),
        ("activate", HandleFn), ("run", RunFn), ("deactivate", HandleFn), ("cleanup", HandleFn),
        ("extension_data", ExtensionDataFn),
    ]


class LilvInstance(ctypes.Structure):
    # lilv.h's LilvInstance: the lilv_instance_* helpers are inline there, so we call through it.
    _fields_ = [("descriptor", ctypes.POINTER(LV2Descriptor)), ("handle", ctypes.c_void_p), ("pimpl", ctypes.c_void_p)]


# -- the plugin description ----------------------------------------------------------------
@dataclass
class Port:
    index: int
    symbol: str
    name: str
    kind: str  # "audio", "control", "atom", "cv", "other"
    is_input: bool
    minimum: float | None = None
    maximum: float | None = None
    default: float | None = None
    unit: str = ""
    integer: bool = False
    toggled: bool = False
    enumeration: bool = False
    designation: str = ""
    reports_latency: bool = False
    optional: bool = False

    @property
    def is_knob_candidate(self) -> bool:
        """A control input a user turns: not the enable switch, a free-wheeling flag, or a
        selector between discrete models (``lv2:enumeration``; name it in ``knobs=`` to get it)."""
        return self.kind == "control" and self.is_input and not self.enumeration and self.designation not in (
            LV2 + "enabled", LV2 + "freeWheeling", LV2 + "latency", PARAMETERS + "sampleRate"
        )


@dataclass
class PluginInfo:
    uri: str
    name: str
    ports: list[Port] = field(default_factory=list)
    required_features: list[str] = field(default_factory=list)

    def ports_of(self, kind: str, is_input: bool) -> list[Port]:
        return [p for p in self.ports if p.kind == kind and p.is_input == is_input]


class World:
    """A lilv world with every installed LV2 bundle loaded (``LV2_PATH`` is honoured)."""

    def __init__(self) -> None:
        self.lib = library()
        self.ptr = self.lib.lilv_world_new()
        self.lib.lilv_world_load_all(self.ptr)
        self._interned: dict[str, int] = {}

    def uri(self, text: str) -> int:
        """An interned URI node (freed with the world)."""
        if text not in self._interned:
            self._interned[text] = self.lib.lilv_new_uri(self.ptr, text.encode())
        return self._interned[text]

    def close(self) -> None:
        if self.ptr:
            for node in self._interned.values():
                self.lib.lilv_node_free(node)
            self._interned.clear()
            self.lib.lilv_world_free(self.ptr)
            self.ptr = None

    def plugin_uris(self) -> list[str]:
        plugins = self.lib.lilv_world_get_all_plugins(self.ptr)
        out = []
        it = self.lib.lilv_plugins_begin(plugins)
        while not self.lib.lilv_plugins_is_end(plugins, it):
            plugin = self.lib.lilv_plugins_get(plugins, it)
            out.append(self._string(self.lib.lilv_plugin_get_uri(plugin)))
            it = self.lib.lilv_plugins_next(plugins, it)
        return sorted(out)

    def plugin(self, uri: str) -> int:
        plugins = self.lib.lilv_world_get_all_plugins(self.ptr)
        ptr = self.lib.lilv_plugins_get_by_uri(plugins, self.uri(uri))
        if not ptr:
            known = [u for u in self.plugin_uris() if uri.rsplit("#", 1)[-1].lower() in u.lower()][:5]
            raise PanamaError(
                f"no LV2 plugin with URI {uri!r} is installed",
                ("did you mean " + ", ".join(known)) if known else
                "list installed plugins with `lv2ls` (e.g. `apt-get install guitarix-lv2 lilv-utils`)",
            )
        return ptr

    # -- node helpers ---------------------------------------------------------------------
    def _string(self, node: int | None) -> str:
        if not node:
            return ""
        raw = self.lib.lilv_node_as_string(node)
        return raw.decode(errors="replace") if raw else ""

    def _owned_string(self, node: int | None) -> str:
        text = self._string(node)
        if node:
            self.lib.lilv_node_free(node)
        return text

    def _number(self, node: int | None) -> float | None:
        if not node:
            return None
        value = None
        if self.lib.lilv_node_is_float(node) or self.lib.lilv_node_is_int(node):
            # lilv hands out C floats: 0.01 arrives as 0.009999999776; 7 digits is what was written.
            value = float(f"{self.lib.lilv_node_as_float(node):.7g}")
        self.lib.lilv_node_free(node)
        return value

    def _node_strings(self, nodes: int | None) -> Iterator[str]:
        if not nodes:
            return
        it = self.lib.lilv_nodes_begin(nodes)
        while not self.lib.lilv_nodes_is_end(nodes, it):
            yield self._string(self.lib.lilv_nodes_get(nodes, it))
            it = self.lib.lilv_nodes_next(nodes, it)
        self.lib.lilv_nodes_free(nodes)

    def _unit(self, plugin: int, port: int) -> str:
        node = self.lib.lilv_port_get(plugin, port, self.uri(UNITS + "unit"))
        if not node:
            return ""
        try:
            if self.lib.lilv_node_is_uri(node):
                text = self._string(node)
                if text.startswith(UNITS):
                    return UNIT_SYMBOLS.get(text[len(UNITS):], text[len(UNITS):])
                return text.rsplit("#", 1)[-1].rsplit("/", 1)[-1]
            symbol = self.lib.lilv_world_get(self.ptr, node, self.uri(UNITS + "symbol"), None)
            return self._owned_string(symbol)
        finally:
            self.lib.lilv_node_free(node)

    def describe(self, uri: str) -> PluginInfo:
        """Read a plugin's name, ports (with ranges, units, properties) and required features."""
        lib = self.lib
        plugin = self.plugin(uri)
        info = PluginInfo(uri=uri, name=self._owned_string(lib.lilv_plugin_get_name(plugin)))
        info.required_features = list(self._node_strings(lib.lilv_plugin_get_required_features(plugin)))
        for index in range(lib.lilv_plugin_get_num_ports(plugin)):
            port = lib.lilv_plugin_get_port_by_index(plugin, index)

            def is_a(cls: str, port: int = port) -> bool:
                return bool(lib.lilv_port_is_a(plugin, port, self.uri(cls)))

            def has(prop: str, port: int = port) -> bool:
                return bool(lib.lilv_port_has_property(plugin, port, self.uri(prop)))

            kind = ("audio" if is_a(LV2 + "AudioPort") else "control" if is_a(LV2 + "ControlPort")
                    else "atom" if is_a(ATOM + "AtomPort") else "cv" if is_a(LV2 + "CVPort") else "other")
            entry = Port(
                index=index,
                symbol=self._string(lib.lilv_port_get_symbol(plugin, port)),
                name=self._owned_string(lib.lilv_port_get_name(plugin, port)),
                kind=kind,
                is_input=is_a(LV2 + "InputPort"),
                integer=has(LV2 + "integer"),
                toggled=has(LV2 + "toggled"),
                enumeration=has(LV2 + "enumeration"),
                reports_latency=has(LV2 + "reportsLatency"),
                optional=has(LV2 + "connectionOptional"),
                designation=self._owned_string(lib.lilv_port_get(plugin, port, self.uri(LV2 + "designation"))),
            )
            if kind == "control":
                default, minimum, maximum = ctypes.c_void_p(), ctypes.c_void_p(), ctypes.c_void_p()
                lib.lilv_port_get_range(plugin, port, ctypes.byref(default), ctypes.byref(minimum), ctypes.byref(maximum))
                entry.default = self._number(default.value)
                entry.minimum = self._number(minimum.value)
                entry.maximum = self._number(maximum.value)
                entry.unit = self._unit(plugin, port)
            info.ports.append(entry)
        return info


# -- host features -------------------------------------------------------------------------
class UridTable:
    """``urid:map`` / ``urid:unmap``: URIs ↔ small integers, stable for the host's life."""

    def __init__(self) -> None:
        self._ids: dict[bytes, int] = {}
        self._buffers: list[Any] = [None]  # index = URID; keeps C strings alive for unmap
        self.map_fn = MapFn(self._map)
        self.unmap_fn = UnmapFn(self._unmap)
        self.map_struct = URIDMap(None, self.map_fn)
        self.unmap_struct = URIDUnmap(None, self.unmap_fn)

    def _map(self, _handle: int, uri: bytes) -> int:
        return self.map(uri.decode() if uri else "")

    def _unmap(self, _handle: int, urid: int) -> int | None:
        if 0 < urid < len(self._buffers):
            return ctypes.addressof(self._buffers[urid])
        return None

    def map(self, uri: str) -> int:
        key = uri.encode()
        if key not in self._ids:
            self._ids[key] = len(self._buffers)
            self._buffers.append(ctypes.create_string_buffer(key))
        return self._ids[key]


class Worker:
    """``worker:schedule`` run synchronously; responses are delivered after each ``run``."""

    def __init__(self) -> None:
        self.interface: WorkerInterface | None = None
        self.handle: int | None = None
        self._responses: list[bytes] = []
        self.schedule_fn = ScheduleFn(self._schedule)
        self.respond_fn = RespondFn(self._respond)
        self.schedule_struct = WorkerSchedule(None, self.schedule_fn)

    def _schedule(self, _handle: int, size: int, data: int) -> int:
        if self.interface is None:
            return 1  # LV2_WORKER_ERR_UNKNOWN: the plugin has no worker interface
        return int(self.interface.work(self.handle, self.respond_fn, None, size, data))

    def _respond(self, _handle: int, size: int, data: int) -> int:
        self._responses.append(ctypes.string_at(data, size))
        return 0

    def after_run(self) -> None:
        if self.interface is None:
            return
        while self._responses:
            body = self._responses.pop(0)
            buffer = ctypes.create_string_buffer(body, len(body))
            self.interface.work_response(self.handle, len(body), ctypes.cast(buffer, ctypes.c_void_p))
        if self.interface.end_run:
            self.interface.end_run(self.handle)


class Instance:
    """One running plugin instance: ports connected to NumPy buffers, processed in blocks."""

    def __init__(self, world: World, info: PluginInfo, sample_rate: int, block_size: int,
                 controls: dict[str, float]) -> None:
        self.info = info
        self.block_size = block_size
        self.urids = UridTable()
        self.worker = Worker()
        urid = self.urids.map
        self._int_buf = (ctypes.c_int32 * 2)(block_size, block_size)
        self._rate_buf = ctypes.c_float(float(sample_rate))
        option_rows = [
            (BUF_SIZE + "maxBlockLength", ATOM + "Int", ctypes.addressof(self._int_buf)),
            (BUF_SIZE + "minBlockLength", ATOM + "Int", ctypes.addressof(self._int_buf) + 4),
            (BUF_SIZE + "nominalBlockLength", ATOM + "Int", ctypes.addressof(self._int_buf)),
            (PARAMETERS + "sampleRate", ATOM + "Float", ctypes.addressof(self._rate_buf)),
        ]
        self._options = (Option * (len(option_rows) + 1))(
            *[Option(0, 0, urid(key), 4, urid(type_), value) for key, type_, value in option_rows], Option()
        )
        feature_rows = [
            (URID + "map", ctypes.addressof(self.urids.map_struct)),
            (URID + "unmap", ctypes.addressof(self.urids.unmap_struct)),
            (WORKER + "schedule", ctypes.addressof(self.worker.schedule_struct)),
            (OPTIONS + "options", ctypes.addressof(self._options)),
            (BUF_SIZE + "boundedBlockLength", None),
            (BUF_SIZE + "fixedBlockLength", None),
            (BUF_SIZE + "powerOf2BlockLength", None),
        ]
        self._features = [LV2Feature(uri.encode(), data) for uri, data in feature_rows]
        provided = {uri for uri, _ in feature_rows} | {LV2 + "hardRTCapable", LV2 + "inPlaceBroken", LV2 + "isLive"}
        missing = [f for f in info.required_features if f not in provided]
        if missing:
            raise PanamaError(
                f"LV2 plugin {info.uri!r} requires host feature(s) PANAMA does not provide: {', '.join(missing)}",
                "use another plugin, or report which feature it needs",
            )
        self._feature_array = (ctypes.POINTER(LV2Feature) * (len(self._features) + 1))(
            *[ctypes.pointer(f) for f in self._features], ctypes.POINTER(LV2Feature)()
        )
        lib = world.lib
        self.lib = lib
        ptr = lib.lilv_plugin_instantiate(world.plugin(info.uri), float(sample_rate),
                                          ctypes.cast(self._feature_array, ctypes.c_void_p))
        if not ptr:
            raise PanamaError(
                f"LV2 plugin {info.uri!r} failed to instantiate at {sample_rate} Hz",
                "its own message (if any) is printed above; check it runs in `jalv` or `lv2apply`",
            )
        self.ptr = ptr
        self.instance = ctypes.cast(ptr, ctypes.POINTER(LilvInstance)).contents
        self.descriptor = self.instance.descriptor.contents
        self.handle = self.instance.handle
        ext = self.descriptor.extension_data
        if ext:
            iface = ext((WORKER + "interface").encode())
            if iface:
                self.worker.interface = ctypes.cast(iface, ctypes.POINTER(WorkerInterface)).contents
                self.worker.handle = self.handle
        self._connect(controls, urid)
        if self.descriptor.activate:
            self.descriptor.activate(self.handle)
        self.active = True

    def _connect(self, controls: dict[str, float], urid: Any) -> None:
        n = self.block_size
        self.audio_in: list[np.ndarray] = []
        self.audio_out: list[np.ndarray] = []
        self.control_out: dict[str, np.ndarray] = {}
        self._keep: list[Any] = []
        self._atom_inputs: list[Any] = []
        self._atom_outputs: list[Any] = []
        self._seq_type = urid(ATOM + "Sequence")
        self._chunk_type = urid(ATOM + "Chunk")
        for port in self.info.ports:
            if port.kind == "audio":
                buf = np.zeros(n, dtype=np.float32)
                (self.audio_in if port.is_input else self.audio_out).append(buf)
                self._connect_port(port.index, buf.ctypes.data)
                self._keep.append(buf)
            elif port.kind == "control":
                value = controls.get(port.symbol, port.default if port.default is not None else 0.0)
                buf = np.array([value], dtype=np.float32)
                if not port.is_input:
                    self.control_out[port.symbol] = buf
                self._connect_port(port.index, buf.ctypes.data)
                self._keep.append(buf)
            elif port.kind == "atom":
                atoms = (ctypes.c_uint32 * (ATOM_BUFFER_BYTES // 4))()
                (self._atom_inputs if port.is_input else self._atom_outputs).append(atoms)
                self._connect_port(port.index, ctypes.addressof(atoms))
            elif port.optional:
                self._connect_port(port.index, None)
            else:
                raise PanamaError(
                    f"LV2 plugin {self.info.uri!r} has a {port.kind} port {port.symbol!r} PANAMA cannot feed",
                    "only audio, control and atom ports are supported",
                )
        self._reset_atoms()

    def _connect_port(self, index: int, address: int | None) -> None:
        self.descriptor.connect_port(self.handle, index, address)

    def _reset_atoms(self) -> None:
        # LV2_Atom_Sequence: atom {size, type} then body {unit, pad}; an empty input sequence
        # has size 8 (the body header); an output gets the buffer capacity and type Chunk.
        for buf in self._atom_inputs:
            buf[0], buf[1], buf[2], buf[3] = 8, self._seq_type, 0, 0
        for buf in self._atom_outputs:
            buf[0], buf[1] = ATOM_BUFFER_BYTES - 8, self._chunk_type

    def process(self, x: np.ndarray, output: int = 0) -> np.ndarray:
        """Run ``x`` (mono float32) through the plugin block by block; every input gets ``x``."""
        n = self.block_size
        y = np.zeros(len(x), dtype=np.float32)
        run = self.descriptor.run
        for start in range(0, len(x), n):
            chunk = x[start:start + n]
            m = len(chunk)
            for buf in self.audio_in:
                buf[:m] = chunk
                buf[m:] = 0.0
            self._reset_atoms()
            run(self.handle, m)
            self.worker.after_run()
            y[start:start + m] = self.audio_out[output][:m]
        return y

    def latency(self) -> int:
        for port in self.info.ports:
            if port.reports_latency or port.designation == LV2 + "latency":
                if port.symbol in self.control_out:
                    return max(0, round(float(self.control_out[port.symbol][0])))
        return 0

    def close(self) -> None:
        if self.ptr:
            if self.active and self.descriptor.deactivate:
                self.descriptor.deactivate(self.handle)
            self.active = False
            self.lib.lilv_instance_free(self.ptr)
            self.ptr = None
