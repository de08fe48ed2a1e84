"""Front-end of the staff and manager consoles: templates, scripts, styles.

The counter console, the door console and the manager console are plain
HTML, CSS and JavaScript with no build step; this is a package only so that
the wheel carries it and the app finds it installed.
"""
