"""One date format on every page of the console (lists, forms, timelines, dashboard): ISO order,
24 hours, the server's time zone (UTC). Django's English default is "Dec. 3, 2026, 11:56 a.m."."""

DATETIME_FORMAT = "Y-m-d H:i:s"
SHORT_DATETIME_FORMAT = "Y-m-d H:i:s"
DATE_FORMAT = "Y-m-d"
SHORT_DATE_FORMAT = "Y-m-d"
TIME_FORMAT = "H:i:s"
