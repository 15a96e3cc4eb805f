from accounts.panels import PanelRegistry

# Sections of the cohort page contributed by higher apps (questionnaires, alerts, messages).
cohort_page = PanelRegistry("cohort_page")
# Sections of a session's register page contributed by higher apps (the huddle link).
session_page = PanelRegistry("session_page")
