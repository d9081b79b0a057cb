import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class IntentState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    INTENT_STATE_UNSPECIFIED: _ClassVar[IntentState]
    INTENT_STATE_ACCEPTED: _ClassVar[IntentState]
    INTENT_STATE_COMPILING: _ClassVar[IntentState]
    INTENT_STATE_INSTALLING: _ClassVar[IntentState]
    INTENT_STATE_INSTALLED: _ClassVar[IntentState]
    INTENT_STATE_FAILED: _ClassVar[IntentState]
    INTENT_STATE_WITHDRAWING: _ClassVar[IntentState]
    INTENT_STATE_WITHDRAWN: _ClassVar[IntentState]

class Protection(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PROTECTION_UNSPECIFIED: _ClassVar[Protection]
    PROTECTION_NONE: _ClassVar[Protection]
    PROTECTION_PROTECTED: _ClassVar[Protection]

class ServiceClass(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SERVICE_CLASS_UNSPECIFIED: _ClassVar[ServiceClass]
    SERVICE_CLASS_REALTIME: _ClassVar[ServiceClass]
    SERVICE_CLASS_PRIORITY: _ClassVar[ServiceClass]
    SERVICE_CLASS_BULK: _ClassVar[ServiceClass]
INTENT_STATE_UNSPECIFIED: IntentState
INTENT_STATE_ACCEPTED: IntentState
INTENT_STATE_COMPILING: IntentState
INTENT_STATE_INSTALLING: IntentState
INTENT_STATE_INSTALLED: IntentState
INTENT_STATE_FAILED: IntentState
INTENT_STATE_WITHDRAWING: IntentState
INTENT_STATE_WITHDRAWN: IntentState
PROTECTION_UNSPECIFIED: Protection
PROTECTION_NONE: Protection
PROTECTION_PROTECTED: Protection
SERVICE_CLASS_UNSPECIFIED: ServiceClass
SERVICE_CLASS_REALTIME: ServiceClass
SERVICE_CLASS_PRIORITY: ServiceClass
SERVICE_CLASS_BULK: ServiceClass

class Intent(_message.Message):
    __slots__ = ("id", "tenant", "src_site", "dst_site", "bandwidth_gbps", "excess_gbps", "max_latency_ms", "protection", "service_class", "description", "labels", "src_prefixes", "dst_prefixes", "state", "state_reason", "path", "backup_path", "path_latency_ms", "reserved_gbps", "create_time", "update_time")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    SRC_SITE_FIELD_NUMBER: _ClassVar[int]
    DST_SITE_FIELD_NUMBER: _ClassVar[int]
    BANDWIDTH_GBPS_FIELD_NUMBER: _ClassVar[int]
    EXCESS_GBPS_FIELD_NUMBER: _ClassVar[int]
    MAX_LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    PROTECTION_FIELD_NUMBER: _ClassVar[int]
    SERVICE_CLASS_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    SRC_PREFIXES_FIELD_NUMBER: _ClassVar[int]
    DST_PREFIXES_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    STATE_REASON_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    BACKUP_PATH_FIELD_NUMBER: _ClassVar[int]
    PATH_LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    RESERVED_GBPS_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    id: str
    tenant: str
    src_site: str
    dst_site: str
    bandwidth_gbps: float
    excess_gbps: float
    max_latency_ms: float
    protection: Protection
    service_class: ServiceClass
    description: str
    labels: _containers.ScalarMap[str, str]
    src_prefixes: _containers.RepeatedScalarFieldContainer[str]
    dst_prefixes: _containers.RepeatedScalarFieldContainer[str]
    state: IntentState
    state_reason: str
    path: _containers.RepeatedScalarFieldContainer[str]
    backup_path: _containers.RepeatedScalarFieldContainer[str]
    path_latency_ms: float
    reserved_gbps: float
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., tenant: _Optional[str] = ..., src_site: _Optional[str] = ..., dst_site: _Optional[str] = ..., bandwidth_gbps: _Optional[float] = ..., excess_gbps: _Optional[float] = ..., max_latency_ms: _Optional[float] = ..., protection: _Optional[_Union[Protection, str]] = ..., service_class: _Optional[_Union[ServiceClass, str]] = ..., description: _Optional[str] = ..., labels: _Optional[_Mapping[str, str]] = ..., src_prefixes: _Optional[_Iterable[str]] = ..., dst_prefixes: _Optional[_Iterable[str]] = ..., state: _Optional[_Union[IntentState, str]] = ..., state_reason: _Optional[str] = ..., path: _Optional[_Iterable[str]] = ..., backup_path: _Optional[_Iterable[str]] = ..., path_latency_ms: _Optional[float] = ..., reserved_gbps: _Optional[float] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class IntentEvent(_message.Message):
    __slots__ = ("intent_id", "tenant", "state", "reason", "time", "old_path", "new_path")
    INTENT_ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    OLD_PATH_FIELD_NUMBER: _ClassVar[int]
    NEW_PATH_FIELD_NUMBER: _ClassVar[int]
    intent_id: str
    tenant: str
    state: IntentState
    reason: str
    time: _timestamp_pb2.Timestamp
    old_path: _containers.RepeatedScalarFieldContainer[str]
    new_path: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, intent_id: _Optional[str] = ..., tenant: _Optional[str] = ..., state: _Optional[_Union[IntentState, str]] = ..., reason: _Optional[str] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., old_path: _Optional[_Iterable[str]] = ..., new_path: _Optional[_Iterable[str]] = ...) -> None: ...

class IntentStats(_message.Message):
    __slots__ = ("intent_id", "tenant", "state", "time", "forward", "reverse", "sla")
    INTENT_ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    FORWARD_FIELD_NUMBER: _ClassVar[int]
    REVERSE_FIELD_NUMBER: _ClassVar[int]
    SLA_FIELD_NUMBER: _ClassVar[int]
    intent_id: str
    tenant: str
    state: IntentState
    time: _timestamp_pb2.Timestamp
    forward: IntentDirectionStats
    reverse: IntentDirectionStats
    sla: SlaReport
    def __init__(self, intent_id: _Optional[str] = ..., tenant: _Optional[str] = ..., state: _Optional[_Union[IntentState, str]] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., forward: _Optional[_Union[IntentDirectionStats, _Mapping]] = ..., reverse: _Optional[_Union[IntentDirectionStats, _Mapping]] = ..., sla: _Optional[_Union[SlaReport, _Mapping]] = ...) -> None: ...

class IntentDirectionStats(_message.Message):
    __slots__ = ("rate_in_gbps", "rate_out_gbps", "dropped_bytes", "dropped_frames", "drop_rate_gbps", "dropped_frames_per_second", "latency_ms", "jitter_ms")
    RATE_IN_GBPS_FIELD_NUMBER: _ClassVar[int]
    RATE_OUT_GBPS_FIELD_NUMBER: _ClassVar[int]
    DROPPED_BYTES_FIELD_NUMBER: _ClassVar[int]
    DROPPED_FRAMES_FIELD_NUMBER: _ClassVar[int]
    DROP_RATE_GBPS_FIELD_NUMBER: _ClassVar[int]
    DROPPED_FRAMES_PER_SECOND_FIELD_NUMBER: _ClassVar[int]
    LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    JITTER_MS_FIELD_NUMBER: _ClassVar[int]
    rate_in_gbps: float
    rate_out_gbps: float
    dropped_bytes: int
    dropped_frames: int
    drop_rate_gbps: float
    dropped_frames_per_second: float
    latency_ms: float
    jitter_ms: float
    def __init__(self, rate_in_gbps: _Optional[float] = ..., rate_out_gbps: _Optional[float] = ..., dropped_bytes: _Optional[int] = ..., dropped_frames: _Optional[int] = ..., drop_rate_gbps: _Optional[float] = ..., dropped_frames_per_second: _Optional[float] = ..., latency_ms: _Optional[float] = ..., jitter_ms: _Optional[float] = ...) -> None: ...

class SlaReport(_message.Message):
    __slots__ = ("window", "observed", "within_latency_share", "committed_rate_share", "availability", "outages")
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    OBSERVED_FIELD_NUMBER: _ClassVar[int]
    WITHIN_LATENCY_SHARE_FIELD_NUMBER: _ClassVar[int]
    COMMITTED_RATE_SHARE_FIELD_NUMBER: _ClassVar[int]
    AVAILABILITY_FIELD_NUMBER: _ClassVar[int]
    OUTAGES_FIELD_NUMBER: _ClassVar[int]
    window: _duration_pb2.Duration
    observed: _duration_pb2.Duration
    within_latency_share: float
    committed_rate_share: float
    availability: float
    outages: _containers.RepeatedCompositeFieldContainer[Outage]
    def __init__(self, window: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., observed: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., within_latency_share: _Optional[float] = ..., committed_rate_share: _Optional[float] = ..., availability: _Optional[float] = ..., outages: _Optional[_Iterable[_Union[Outage, _Mapping]]] = ...) -> None: ...

class Outage(_message.Message):
    __slots__ = ("start_time", "duration", "ongoing")
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    DURATION_FIELD_NUMBER: _ClassVar[int]
    ONGOING_FIELD_NUMBER: _ClassVar[int]
    start_time: _timestamp_pb2.Timestamp
    duration: _duration_pb2.Duration
    ongoing: bool
    def __init__(self, start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., duration: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., ongoing: _Optional[bool] = ...) -> None: ...
