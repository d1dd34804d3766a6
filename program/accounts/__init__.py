"""People, roles, departments, teams, sign-in and password reset, and the people import."""
