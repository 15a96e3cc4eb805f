from accounts.panels import PanelRegistry

# Sections of the participant page contributed by programmes, measures and reminders.
participant_page = PanelRegistry("participant_page")
