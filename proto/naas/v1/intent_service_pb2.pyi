import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import field_mask_pb2 as _field_mask_pb2
from naas.v1 import intent_pb2 as _intent_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CreateIntentRequest(_message.Message):
    __slots__ = ("intent", "request_id")
    INTENT_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    intent: _intent_pb2.Intent
    request_id: str
    def __init__(self, intent: _Optional[_Union[_intent_pb2.Intent, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class CreateIntentResponse(_message.Message):
    __slots__ = ("intent",)
    INTENT_FIELD_NUMBER: _ClassVar[int]
    intent: _intent_pb2.Intent
    def __init__(self, intent: _Optional[_Union[_intent_pb2.Intent, _Mapping]] = ...) -> None: ...

class CreateIntentsRequest(_message.Message):
    __slots__ = ("orders",)
    ORDERS_FIELD_NUMBER: _ClassVar[int]
    orders: _containers.RepeatedCompositeFieldContainer[CreateIntentRequest]
    def __init__(self, orders: _Optional[_Iterable[_Union[CreateIntentRequest, _Mapping]]] = ...) -> None: ...

class CreateIntentsResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[CreateIntentsResult]
    def __init__(self, results: _Optional[_Iterable[_Union[CreateIntentsResult, _Mapping]]] = ...) -> None: ...

class CreateIntentsResult(_message.Message):
    __slots__ = ("intent", "code", "reason", "max_bandwidth_gbps", "min_latency_ms")
    INTENT_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    MAX_BANDWIDTH_GBPS_FIELD_NUMBER: _ClassVar[int]
    MIN_LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    intent: _intent_pb2.Intent
    code: str
    reason: str
    max_bandwidth_gbps: float
    min_latency_ms: float
    def __init__(self, intent: _Optional[_Union[_intent_pb2.Intent, _Mapping]] = ..., code: _Optional[str] = ..., reason: _Optional[str] = ..., max_bandwidth_gbps: _Optional[float] = ..., min_latency_ms: _Optional[float] = ...) -> None: ...

class GetIntentRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class GetIntentResponse(_message.Message):
    __slots__ = ("intent",)
    INTENT_FIELD_NUMBER: _ClassVar[int]
    intent: _intent_pb2.Intent
    def __init__(self, intent: _Optional[_Union[_intent_pb2.Intent, _Mapping]] = ...) -> None: ...

class ListIntentsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "tenant", "state", "site")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    SITE_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    tenant: str
    state: _intent_pb2.IntentState
    site: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., tenant: _Optional[str] = ..., state: _Optional[_Union[_intent_pb2.IntentState, str]] = ..., site: _Optional[str] = ...) -> None: ...

class ListIntentsResponse(_message.Message):
    __slots__ = ("intents", "next_page_token")
    INTENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    intents: _containers.RepeatedCompositeFieldContainer[_intent_pb2.Intent]
    next_page_token: str
    def __init__(self, intents: _Optional[_Iterable[_Union[_intent_pb2.Intent, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class UpdateIntentRequest(_message.Message):
    __slots__ = ("intent", "update_mask")
    INTENT_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    intent: _intent_pb2.Intent
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, intent: _Optional[_Union[_intent_pb2.Intent, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class UpdateIntentResponse(_message.Message):
    __slots__ = ("intent",)
    INTENT_FIELD_NUMBER: _ClassVar[int]
    intent: _intent_pb2.Intent
    def __init__(self, intent: _Optional[_Union[_intent_pb2.Intent, _Mapping]] = ...) -> None: ...

class DeleteIntentRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class DeleteIntentResponse(_message.Message):
    __slots__ = ("intent",)
    INTENT_FIELD_NUMBER: _ClassVar[int]
    intent: _intent_pb2.Intent
    def __init__(self, intent: _Optional[_Union[_intent_pb2.Intent, _Mapping]] = ...) -> None: ...

class WatchIntentsRequest(_message.Message):
    __slots__ = ("tenant", "intent_id", "include_current")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    INTENT_ID_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_CURRENT_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    intent_id: str
    include_current: bool
    def __init__(self, tenant: _Optional[str] = ..., intent_id: _Optional[str] = ..., include_current: _Optional[bool] = ...) -> None: ...

class WatchIntentsResponse(_message.Message):
    __slots__ = ("event",)
    EVENT_FIELD_NUMBER: _ClassVar[int]
    event: _intent_pb2.IntentEvent
    def __init__(self, event: _Optional[_Union[_intent_pb2.IntentEvent, _Mapping]] = ...) -> None: ...

class CheckIntentRequest(_message.Message):
    __slots__ = ("intent",)
    INTENT_FIELD_NUMBER: _ClassVar[int]
    intent: _intent_pb2.Intent
    def __init__(self, intent: _Optional[_Union[_intent_pb2.Intent, _Mapping]] = ...) -> None: ...

class CheckIntentResponse(_message.Message):
    __slots__ = ("admissible", "reason", "path", "backup_path", "latency_ms", "max_bandwidth_gbps", "min_latency_ms", "quota_left_gbps")
    ADMISSIBLE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    BACKUP_PATH_FIELD_NUMBER: _ClassVar[int]
    LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    MAX_BANDWIDTH_GBPS_FIELD_NUMBER: _ClassVar[int]
    MIN_LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    QUOTA_LEFT_GBPS_FIELD_NUMBER: _ClassVar[int]
    admissible: bool
    reason: str
    path: _containers.RepeatedScalarFieldContainer[str]
    backup_path: _containers.RepeatedScalarFieldContainer[str]
    latency_ms: float
    max_bandwidth_gbps: float
    min_latency_ms: float
    quota_left_gbps: float
    def __init__(self, admissible: _Optional[bool] = ..., reason: _Optional[str] = ..., path: _Optional[_Iterable[str]] = ..., backup_path: _Optional[_Iterable[str]] = ..., latency_ms: _Optional[float] = ..., max_bandwidth_gbps: _Optional[float] = ..., min_latency_ms: _Optional[float] = ..., quota_left_gbps: _Optional[float] = ...) -> None: ...

class GetIntentStatsRequest(_message.Message):
    __slots__ = ("id", "window")
    ID_FIELD_NUMBER: _ClassVar[int]
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    id: str
    window: _duration_pb2.Duration
    def __init__(self, id: _Optional[str] = ..., window: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class GetIntentStatsResponse(_message.Message):
    __slots__ = ("stats",)
    STATS_FIELD_NUMBER: _ClassVar[int]
    stats: _intent_pb2.IntentStats
    def __init__(self, stats: _Optional[_Union[_intent_pb2.IntentStats, _Mapping]] = ...) -> None: ...

class WatchIntentStatsRequest(_message.Message):
    __slots__ = ("id", "window", "interval")
    ID_FIELD_NUMBER: _ClassVar[int]
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_FIELD_NUMBER: _ClassVar[int]
    id: str
    window: _duration_pb2.Duration
    interval: _duration_pb2.Duration
    def __init__(self, id: _Optional[str] = ..., window: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., interval: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class WatchIntentStatsResponse(_message.Message):
    __slots__ = ("stats",)
    STATS_FIELD_NUMBER: _ClassVar[int]
    stats: _intent_pb2.IntentStats
    def __init__(self, stats: _Optional[_Union[_intent_pb2.IntentStats, _Mapping]] = ...) -> None: ...
