import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Topology(_message.Message):
    __slots__ = ("fabric", "sites", "spans", "time")
    FABRIC_FIELD_NUMBER: _ClassVar[int]
    SITES_FIELD_NUMBER: _ClassVar[int]
    SPANS_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    fabric: str
    sites: _containers.RepeatedCompositeFieldContainer[Site]
    spans: _containers.RepeatedCompositeFieldContainer[Span]
    time: _timestamp_pb2.Timestamp
    def __init__(self, fabric: _Optional[str] = ..., sites: _Optional[_Iterable[_Union[Site, _Mapping]]] = ..., spans: _Optional[_Iterable[_Union[Span, _Mapping]]] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Site(_message.Message):
    __slots__ = ("id", "name", "kind", "region", "latitude", "longitude", "connected", "crossing_ms")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    LATITUDE_FIELD_NUMBER: _ClassVar[int]
    LONGITUDE_FIELD_NUMBER: _ClassVar[int]
    CONNECTED_FIELD_NUMBER: _ClassVar[int]
    CROSSING_MS_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    kind: str
    region: str
    latitude: float
    longitude: float
    connected: bool
    crossing_ms: float
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., kind: _Optional[str] = ..., region: _Optional[str] = ..., latitude: _Optional[float] = ..., longitude: _Optional[float] = ..., connected: _Optional[bool] = ..., crossing_ms: _Optional[float] = ...) -> None: ...

class Span(_message.Message):
    __slots__ = ("id", "site_a", "site_b", "capacity_gbps", "up", "directions")
    ID_FIELD_NUMBER: _ClassVar[int]
    SITE_A_FIELD_NUMBER: _ClassVar[int]
    SITE_B_FIELD_NUMBER: _ClassVar[int]
    CAPACITY_GBPS_FIELD_NUMBER: _ClassVar[int]
    UP_FIELD_NUMBER: _ClassVar[int]
    DIRECTIONS_FIELD_NUMBER: _ClassVar[int]
    id: str
    site_a: str
    site_b: str
    capacity_gbps: float
    up: bool
    directions: _containers.RepeatedCompositeFieldContainer[SpanDirection]
    def __init__(self, id: _Optional[str] = ..., site_a: _Optional[str] = ..., site_b: _Optional[str] = ..., capacity_gbps: _Optional[float] = ..., up: _Optional[bool] = ..., directions: _Optional[_Iterable[_Union[SpanDirection, _Mapping]]] = ...) -> None: ...

class SpanDirection(_message.Message):
    __slots__ = ("from_site", "to_site", "reserved_gbps", "utilization_gbps", "delay_ms", "delay_measured")
    FROM_SITE_FIELD_NUMBER: _ClassVar[int]
    TO_SITE_FIELD_NUMBER: _ClassVar[int]
    RESERVED_GBPS_FIELD_NUMBER: _ClassVar[int]
    UTILIZATION_GBPS_FIELD_NUMBER: _ClassVar[int]
    DELAY_MS_FIELD_NUMBER: _ClassVar[int]
    DELAY_MEASURED_FIELD_NUMBER: _ClassVar[int]
    from_site: str
    to_site: str
    reserved_gbps: float
    utilization_gbps: float
    delay_ms: float
    delay_measured: bool
    def __init__(self, from_site: _Optional[str] = ..., to_site: _Optional[str] = ..., reserved_gbps: _Optional[float] = ..., utilization_gbps: _Optional[float] = ..., delay_ms: _Optional[float] = ..., delay_measured: _Optional[bool] = ...) -> None: ...
