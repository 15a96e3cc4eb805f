"""How many users of each kind, and how fast they act: shared by the locustfile and runner."""

PARTICIPANTS = 200
STAFF = 20
SPAWN_RATE = 20
# Seconds between one request and the next. A participant's page is a GET then a POST, so
# about 11 seconds a page: quicker than a person reading 1 to 10 questions. At 2 to 5 seconds
# the two-core machine saturates (about 23 requests a second with other work running), and
# every page then waits the same several seconds in gunicorn's queue.
PARTICIPANT_WAIT = (3, 8)
STAFF_WAIT = (3, 8)
# The probe asks for the trivial page this often (seconds), throughout the run.
TRIVIAL_EVERY = 0.5
