"""Front-end of the door kiosk and the visitor's phone pages: templates, scripts, styles.

A folder of plain HTML, CSS and JavaScript with no build step; it is a
package only so that the wheel carries it and the app finds it installed.
"""
