"""On-call schedules: layers and rotations compiled to wall-clock timelines, who is on call at an instant, the
final shifts over a range, restriction windows, coverage gaps and iCalendar feeds."""
