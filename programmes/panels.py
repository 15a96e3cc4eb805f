from accounts.panels import PanelRegistry

# Sections of the cohort page contributed by higher apps (questionnaires, alerts, messages).
cohort_page = PanelRegistry("cohort_page")
