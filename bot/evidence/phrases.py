"""Every phrase a finding can say, by a stable message id, with its English text.

Why ids: a finding crosses the worker boundary and reaches a reporter who may read Welsh. The worker
sends the id and the shown value, never a sentence; the bot renders the id from its catalogue in the
chat's language (bot/finding_words.py), and tests/test_catalogue_evidence.py fails when an id lacks an
English or a Welsh entry, or their placeholders differ. The English here is what a finding's `summary`
says (for tests, docs and logs of the package itself) and must equal the English catalogue's.

Formats name a phrase by its English text (`found.add("location", "where the photo was taken", ...)`),
which reads well where the detail is found; Finding turns it into the id and refuses any text that is
not here, so a new phrase cannot reach a reporter untranslated.
"""

from __future__ import annotations

import re

PHRASES: dict[str, str] = {
    "evidence.found.file_or_picture_stored_tags": "a file or picture stored in the tags",
    "evidence.found.extra_data_stored_after_recordings": "extra data stored after the recording's tags",
    "evidence.found.file_stored_inside_recording": "a file stored inside the recording",
    "evidence.found.private_data_app_stored_file": "private data an app stored in the file",
    "evidence.found.data_app_stored_file": "data an app stored in the file",
    "evidence.found.track_list_stored_file": "a track list stored in the file",
    "evidence.found.email_address": "an e-mail address",
    "evidence.found.detail_saved_file": "a detail saved in the file",
    "evidence.found.web_address": "a web address",
    "evidence.found.artists_name": "the artist's name",
    "evidence.found.authors_name": "the author's name",
    "evidence.found.copyright_notice": "a copyright notice",
    "evidence.found.name": "a name",
    "evidence.found.owners_name": "the owner's name",
    "evidence.found.contact": "a contact",
    "evidence.found.account": "an account",
    "evidence.found.history_recording": "the history of the recording",
    "evidence.found.title": "a title",
    "evidence.found.comment": "a comment",
    "evidence.found.description": "a description",
    "evidence.found.album_name": "an album name",
    "evidence.found.words_written_into_file": "words written into the file",
    "evidence.found.subject": "a subject",
    "evidence.found.name_file_attached_inside": "the name of a file attached inside",
    "evidence.found.track_name": "a track name",
    "evidence.found.extra_details_saved_xmp_packet": "extra details saved in an XMP packet",
    "evidence.found.name_xmp_packet": "a name in an XMP packet",
    "evidence.found.app_that_made_file": "the app that made the file",
    "evidence.found.track_name_written_by_app": "a track name written by the app",
    "evidence.found.phone_or_camera_that_made": "the phone or camera that made it",
    "evidence.found.small_preview_picture_may_show": "a small preview picture (may show the photo before editing)",
    "evidence.found.app_that_saved": "the app that saved it",
    "evidence.found.when_was_made": "when it was made",
    "evidence.found.device_that_made": "the device that made it",
    "evidence.found.text_note_file": "a text note in the file",
    "evidence.found.hidden_profile_data_saved_by_app": "hidden profile data saved by an app",
    "evidence.found.text_hidden_file_gif_text_blocks": "text hidden in the file (GIF text blocks)",
    "evidence.found.comment_hidden_file": "a comment hidden in the file",
    "evidence.found.colour_palettes_name": "a colour palette's name",
    "evidence.found.colour_profiles_name": "the colour profile's name",
    "evidence.found.when_file_was_last_changed": "when the file was last changed",
    "evidence.found.content_credentials_can_name_who": "content credentials (can name who made or edited it)",
    "evidence.found.second_hidden_picture_such_as": "a second hidden picture (such as a depth map or preview)",
    "evidence.found.data_only_apple_devices_write": "data only Apple devices write (shows it was saved on one)",
    "evidence.found.appended_data": "extra data hidden after the picture (such as a motion-photo video)",
    "evidence.found.other_hidden_data_saved_by_camera": "other hidden data saved by the camera or app",
    "evidence.found.other_hidden_data_saved_by_app": "other hidden data saved by the app that made it",
    "evidence.found.camera_details_candour_could_not": "camera details Candour could not read in full",
    "evidence.found.photographers_name": "the photographer's name",
    "evidence.found.cameras_serial_number": "the camera's serial number",
    "evidence.found.lens_serial_number": "the lens serial number",
    "evidence.found.computers_name": "the computer's name",
    "evidence.found.when_was_taken": "when it was taken",
    "evidence.found.when_was_digitised": "when it was digitised",
    "evidence.found.when_was_last_changed": "when it was last changed",
    "evidence.found.documents_name": "the document's name",
    "evidence.found.pages_name": "the page's name",
    "evidence.found.unique_id_for_this_photo": "a unique id for this photo",
    "evidence.found.where_photo_was_taken_xmp": "where the photo was taken (in XMP)",
    "evidence.found.place_name_xmp": "a place name (in XMP)",
    "evidence.found.address_xmp": "an address (in XMP)",
    "evidence.found.authors_name_xmp": "the author's name (in XMP)",
    "evidence.found.owners_name_xmp": "the owner's name (in XMP)",
    "evidence.found.photographers_name_xmp": "the photographer's name (in XMP)",
    "evidence.found.copyright_notice_xmp": "a copyright notice (in XMP)",
    "evidence.found.authors_job_xmp": "the author's job (in XMP)",
    "evidence.found.who_wrote_caption_xmp": "who wrote the caption (in XMP)",
    "evidence.found.credit_line_xmp": "a credit line (in XMP)",
    "evidence.found.email_address_xmp": "an e-mail address (in XMP)",
    "evidence.found.phone_number_xmp": "a phone number (in XMP)",
    "evidence.found.phone_or_camera_xmp": "the phone or camera (in XMP)",
    "evidence.found.serial_number_xmp": "a serial number (in XMP)",
    "evidence.found.lens_xmp": "the lens (in XMP)",
    "evidence.found.when_was_made_xmp": "when it was made (in XMP)",
    "evidence.found.when_was_taken_xmp": "when it was taken (in XMP)",
    "evidence.found.when_was_changed_xmp": "when it was changed (in XMP)",
    "evidence.found.when_was_edited_xmp": "when it was edited (in XMP)",
    "evidence.found.app_used_xmp": "the app used (in XMP)",
    "evidence.found.description_xmp": "a description (in XMP)",
    "evidence.found.title_xmp": "a title (in XMP)",
    "evidence.found.keywords_xmp": "keywords (in XMP)",
    "evidence.found.headline_xmp": "a headline (in XMP)",
    "evidence.found.instructions_xmp": "instructions (in XMP)",
    "evidence.found.comment_xmp": "a comment (in XMP)",
    "evidence.found.label_xmp": "a label (in XMP)",
    "evidence.found.unique_id_for_this_photo_xmp": "a unique id for this photo (in XMP)",
    "evidence.found.hidden_xmp_details_edit_history": "hidden XMP details (can hold names, places and edit history)",
    "evidence.found.photographers_name_iptc": "the photographer's name (IPTC)",
    "evidence.found.photographers_job_iptc": "the photographer's job (IPTC)",
    "evidence.found.copyright_notice_iptc": "a copyright notice (IPTC)",
    "evidence.found.who_wrote_caption_iptc": "who wrote the caption (IPTC)",
    "evidence.found.credit_line_iptc": "a credit line (IPTC)",
    "evidence.found.source_iptc": "the source (IPTC)",
    "evidence.found.place_name_iptc": "a place name (IPTC)",
    "evidence.found.when_was_made_iptc": "when it was made (IPTC)",
    "evidence.found.when_was_digitised_iptc": "when it was digitised (IPTC)",
    "evidence.found.app_used_iptc": "the app used (IPTC)",
    "evidence.found.title_iptc": "a title (IPTC)",
    "evidence.found.headline_iptc": "a headline (IPTC)",
    "evidence.found.caption_iptc": "a caption (IPTC)",
    "evidence.found.keywords_iptc": "keywords (IPTC)",
    "evidence.found.instructions_iptc": "instructions (IPTC)",
    "evidence.found.colour_profiles_copyright": "the colour profile's copyright",
    "evidence.found.screen_or_camera_maker_colour": "the screen or camera maker (in the colour profile)",
    "evidence.found.screen_or_camera_model_colour": "the screen or camera model (in the colour profile)",
    "evidence.found.viewing_conditions_colour_profile": "the viewing conditions (in the colour profile)",
    "evidence.found.calibration_target_colour_profile": "the calibration target (in the colour profile)",
    "evidence.found.when_colour_profile_was_made": "when the colour profile was made",
    "evidence.found.where_photo_was_taken": "where the photo was taken",
    "evidence.found.app_that_saved_or_edited": "the app that saved or edited it",
    "evidence.found.other_camera_details_settings_such": "other camera details (settings such as exposure and lens)",
    "evidence.found.lens": "the lens",
    "evidence.found.camera_makers_private_notes_can": "the camera maker's private notes (can hold serial numbers)",
    "evidence.found.phone_or_camera_maker_xmp": "the phone or camera maker (in XMP)",
    "evidence.found.picture_storage": "camera details on how the picture is stored (such as which way up)",
    "evidence.found.phone_or_camera": "the phone or camera",
    "evidence.found.phone_or_camera_maker": "the phone or camera maker",
    "evidence.found.colour_profile_candour_could_not": "a colour profile Candour could not read",
    "evidence.found.screens_model_and_serial_number": "the screen's model and serial number (in the colour profile)",
    "evidence.found.other_data_colour_profile": "other data in the colour profile",
    "evidence.found.text_colour_profile": "a text in the colour profile",
    "evidence.found.file_name": "the file name",
    "evidence.found.file_name_which_shows_date": "the file name, which shows the date",
    "evidence.found.file_name_camera_gave": "the file name the camera gave it",
    "evidence.found.menu_and_toolbar_settings_can_hold": "menu and toolbar settings (can hold names)",
    "evidence.found.macros_or_scripts": "macros or scripts",
    "evidence.found.printers_name": "the printer's name",
    "evidence.found.fax_printers_name": "the fax printer's name",
    "evidence.found.printer_settings_can_name_printer": "printer settings (can name the printer)",
    "evidence.found.embedded_object_candour_cannot": "an embedded object Candour cannot check",
    "evidence.found.who_last_saved": "who last saved it",
    "evidence.found.who_printed": "who printed it",
    "evidence.found.when_was_last_saved": "when it was last saved",
    "evidence.found.when_was_created": "when it was created",
    "evidence.found.when_was_last_printed": "when it was last printed",
    "evidence.found.how_long_was_edited": "how long it was edited",
    "evidence.found.how_many_times_was_saved": "how many times it was saved",
    "evidence.found.program_that_made": "the program that made it",
    "evidence.found.the_title": "the title",
    "evidence.found.the_subject": "the subject",
    "evidence.found.the_description": "the description",
    "evidence.found.keywords": "the keywords",
    "evidence.found.language_setting": "the language setting",
    "evidence.found.custom_document_property": "a custom document property",
    "evidence.found.template_was_made_from": "the template it was made from",
    "evidence.found.preview_picture_candour_cannot": "a preview picture Candour cannot check",
    "evidence.found.preview_embedded_object_candour": "a preview of an embedded object Candour cannot check",
    "evidence.found.picture_candour_cannot_check": "a picture Candour cannot check",
    "evidence.found.document_property": "a document property",
    "evidence.found.when_comments_or_changes_were_made": "when comments or changes were made",
    "evidence.found.initials_on_comments_or_changes": "initials on comments or changes",
    "evidence.found.name_on_comments_or_changes": "a name on comments or changes",
    "evidence.found.folder_path_on_computer": "a folder path on the computer",
    "evidence.found.digital_signature_can_name_who": "a digital signature (can name who signed)",
    "evidence.found.part_file_nothing_uses": "a part of the file nothing uses",
    "evidence.found.link_nothing_file_uses": "a link nothing in the file uses",
    "evidence.found.detail_candour_does_not_recognise": "a detail Candour does not recognise",
    "evidence.found.note_hidden_files_code": "a note hidden in the file's code",
    "evidence.found.account_on_comments_or_changes": "an account on comments or changes",
    "evidence.found.users_name": "a user's name",
    "evidence.found.editing_session_identifiers": "editing-session identifiers",
    "evidence.found.document_variables_can_hold_names": "document variables (can hold names or ids)",
    "evidence.found.document_identifier": "a document identifier",
    "evidence.found.identifiers_from_online_storage": "identifiers from online storage",
    "evidence.found.category": "the category",
    "evidence.found.status": "the status",
    "evidence.found.version": "the version",
    "evidence.found.organisations_name": "the organisation's name",
    "evidence.found.managers_name": "a manager's name",
    "evidence.found.base_address_for_links": "a base address for its links",
    "evidence.found.how_many_minutes_was_edited": "how many minutes it was edited",
    "evidence.found.programs_version": "the program's version",
    "evidence.found.custom_data_parts_can_hold_names": "custom data parts (can hold names or ids)",
    "evidence.found.record_changes_and_who_made_them": "a record of changes and who made them",
    "evidence.found.macros_candour_cannot_check": "macros Candour cannot check",
    "evidence.found.embedded_font_candour_cannot_check": "an embedded font Candour cannot check",
    "evidence.found.add_ins_saved_settings_can_hold": "an add-in's saved settings (can hold names or accounts)",
    "evidence.found.database_connection_naming_user_or": "a database connection naming a user or server",
    "evidence.found.names_parts_can_repeat_title": "the names of its parts (can repeat the title)",
    "evidence.found.embedded_file_candour_could_not": "an embedded file Candour could not read",
    "evidence.found.when_parts_were_saved": "when its parts were saved",
    "evidence.found.note_on_files_zip_wrapper": "a note on the file's zip wrapper",
    "evidence.found.file_attached_to_that_candour": "a file attached to it that Candour cannot check",
    "evidence.found.text_inside_colour_profile": "text inside a colour profile",
    "evidence.found.app_that_made": "the app that made it",
    "evidence.found.app_that_made_pdf": "the app that made the PDF",
    "evidence.found.documents_title": "the document's title",
    "evidence.found.documents_subject": "the document's subject",
    "evidence.found.script_inside": "a script inside it",
    "evidence.found.identifier_that_links_to_copy_came": "an identifier that links it to the copy it came from",
    "evidence.found.private_data_saved_by_app_that": "private data saved by the app that made it",
    "evidence.found.web_addresses_was_saved_from": "the web addresses it was saved from",
    "evidence.found.names_on_comments_or_highlights": "names on comments or highlights",
    "evidence.found.actions_that_run_by_themselves": "actions that run by themselves when it is opened",
    "evidence.found.other_document_details": "other document details",
    "evidence.found.when_comments_were_made": "when comments were made",
    "evidence.found.file_attached_to": "a file attached to it",
    "evidence.found.when_file_attached_to_was_made": "when a file attached to it was made",
    "evidence.found.digital_signature": "a digital signature",
    "evidence.found.link_to_file_on_writers_computer": "a link to a file on the writer's computer",
    "evidence.found.printing_colour_settings_and_notes": "printing colour settings and the notes kept with them",
    "evidence.found.details_listed_beside_attached": "the details listed beside attached files",
    "evidence.found.certificates_people_who_signed": "the certificates of people who signed it",
    "evidence.found.an_authors_name": "an author's name",
    "evidence.found.when_part_was_made": "when a part of it was made",
    "evidence.found.when_part_was_changed": "when a part of it was changed",
    "evidence.found.subject_line_comments": "the subject line of comments",
    "evidence.found.identifier_on_comments": "an identifier on comments",
    "evidence.found.formatted_copy_comments_text": "a formatted copy of a comment's text",
    "evidence.found.description_file_attached_to": "the description of a file attached to it",
    "evidence.found.fingerprint_file_attached_to": "a fingerprint of a file attached to it",
    "evidence.found.contact_details": "contact details",
    "evidence.found.place": "a place",
    "evidence.found.signers_name": "the signer's name",
    "evidence.found.signers_contact_details": "the signer's contact details",
    "evidence.found.where_was_signed": "where it was signed",
    "evidence.found.why_was_signed": "why it was signed",
    "evidence.found.when_was_signed": "when it was signed",
    "evidence.found.signers_certificate": "the signer's certificate",
    "evidence.found.place_xmp_details": "a place (in XMP details)",
    "evidence.found.names_people_xmp_details": "names of people (in XMP details)",
    "evidence.found.dates_and_times_xmp_details": "dates and times (in XMP details)",
    "evidence.found.device_details_xmp_details": "the device details (in XMP details)",
    "evidence.found.app_used_xmp_details": "the app used (in XMP details)",
    "evidence.found.other_hidden_details": "other hidden details",
    "evidence.found.hidden_xmp_details_pdf": "hidden XMP details (can hold names, places, history)",
    "evidence.found.xmp_details_pdf_part": "hidden XMP details in a part of it (can hold names, places, history)",
    "evidence.found.where_was_filmed": "where it was filmed",
    "evidence.found.where_was_recorded": "where it was recorded",
    "evidence.found.when_was_filmed": "when it was filmed",
    "evidence.found.when_was_recorded": "when it was recorded",
    "evidence.found.track_positions_recorded_with": "a track of positions recorded with the video",
    "evidence.found.a_track_positions_recorded_with": "a track of positions recorded with the recording",
    "evidence.found.track_timed_data_recorded_with": "a track of timed data recorded with the video",
    "evidence.found.a_track_timed_data_recorded_with": "a track of timed data recorded with the recording",
    "evidence.found.subtitles_or_captions_stored_video": "subtitles or captions stored in the video",
    "evidence.found.subtitles_or_captions_stored": "subtitles or captions stored in the recording",
    "evidence.found.file_attached_inside_video": "a file attached inside the video",
    "evidence.found.file_attached_inside_recording": "a file attached inside the recording",
    "evidence.found.cover_picture_stored_video": "a cover picture stored in the video",
    "evidence.found.cover_picture_stored_recording": "a cover picture stored in the recording",
    "evidence.found.unknown_part_video": "an unknown part of the video",
    "evidence.found.unknown_part_recording": "an unknown part of the recording",
    "evidence.found.more_tags_stored_after_sound": "more tags stored after the sound",
    "evidence.found.more_tags_stored_before_sound": "more tags stored before the sound",
    "evidence.found.more_tags_stored_between_parts": "more tags stored between parts of the sound",
    "evidence.found.extra_data_stored_after_sound": "extra data stored after the sound",
    "evidence.found.extra_data_stored_before_sound": "extra data stored before the sound",
    "evidence.found.extra_data_stored_between_parts": "extra data stored between parts of the sound",
    "evidence.found.iptc_details_can_hold_names_places": "IPTC details (can hold names, places and captions)",
    "evidence.found.keywords_pdf": "keywords",
}

# Phrases with a number (`count`), rendered with the language's plural forms.
MORE = "evidence.found.more"
COUNTED: dict[str, str] = {MORE: "and {count} more hidden details"}

# How a finding's parts are put together: its value, that it was removed whole, that it is inside a
# picture or a file inside the file sent (said once, however deep the nesting).
WITH_VALUE = "evidence.found.with_value"
REMOVED = "evidence.found.removed"
INSIDE = {"picture": "evidence.found.inside.picture", "file": "evidence.found.inside.file"}
TEMPLATES: dict[str, str] = {
    WITH_VALUE: "{what} ({value})",
    REMOVED: "{what} (removed)",
    INSIDE["picture"]: "in a picture inside: {what}",
    INSIDE["file"]: "in a file inside: {what}",
}

ID_OF: dict[str, str] = {english: key for key, english in PHRASES.items()}
_PREFIXES = {"in a picture inside: ": "picture", "in a file inside: ": "file"}
_REMOVED_TEXT = " (removed)"
_COUNTED = re.compile(r"and (\d{1,9}) more hidden details")


def english(phrase: str, count: int = 0) -> str:
    """The English of a phrase id (with its count for a counted one)."""
    if phrase in COUNTED:
        return COUNTED[phrase].format(count=count)
    return PHRASES[phrase]


def parse(text: str) -> tuple[str, str, str, bool, int]:
    """An English summary taken apart into (phrase id, value, inside, removed, count).

    Accepts what `summary` writes: an optional "in a ... inside: " prefix, a phrase, an optional
    " (value)", an optional " (removed)". Raises ValueError for a text no phrase here says.
    """
    inside = ""
    for prefix, where in _PREFIXES.items():
        if text.startswith(prefix):
            text, inside = text[len(prefix) :], where
            break
    removed = text.endswith(_REMOVED_TEXT) and text not in ID_OF
    if removed:
        text = text[: -len(_REMOVED_TEXT)]
    if text in ID_OF:
        return ID_OF[text], "", inside, removed, 0
    counted = _COUNTED.fullmatch(text)
    if counted:
        return MORE, "", inside, removed, int(counted[1])
    if text.endswith(")"):
        # The longest phrase the text starts with, then " (value)": a phrase may hold brackets itself.
        cuts = [match.start() for match in re.finditer(r" \(", text)]
        for cut in reversed(cuts):
            if text[:cut] in ID_OF:
                return ID_OF[text[:cut]], text[cut + 2 : -1], inside, removed, 0
    raise ValueError("a finding must say one of the phrases in bot/evidence/phrases.py")


SAYABLE = frozenset(PHRASES) | frozenset(COUNTED)  # every phrase id a finding may carry
