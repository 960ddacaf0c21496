"""Photos and clips: resumable uploads from agents, downloads for supervisors."""

import re
from urllib.parse import quote

from flask import request, send_file
from flask.views import MethodView
from sqlalchemy.exc import IntegrityError

from server.api.docs import problem_doc
from server.api.schemas import get_or_404
from server.api.stations.common import SUPERVISORS, TOKEN_PROBLEMS, _me, blp, problems, station_token_required
from server.api.stations.schemas import MediaInSchema, MediaOutSchema
from server.auth import roles_required
from server.extensions import db
from server.models import MediaFile
from server.problems import Problem
from server.services import stations as service
from server.services.errors import DomainError

OFFSET_STREAM = "application/offset+octet-stream"


@blp.route("/stations/me/media")
class MyMedia(MethodView):
    @station_token_required
    @blp.arguments(MediaInSchema)
    @blp.response(201, MediaOutSchema, description="A new upload")
    @blp.alt_response(200, schema=MediaOutSchema, description="This file again: the bytes received so far")
    @problems({**TOKEN_PROBLEMS, 409: "This checksum was announced with another size"})
    def post(self, data):
        """Announce a photo or clip by its sha256; answers where to continue (`offset`)"""
        station = _me()
        for _attempt in range(2):
            try:
                with db.session.begin_nested():
                    media, created = service.open_upload(station, data["sha256"], data["size"], data["kind"],
                                                         data["content_type"], data["filename"])
                break
            except IntegrityError:  # an event naming the file made the row at the same moment
                continue
        else:
            raise Problem(409, "conflict", "The file was announced twice at the same moment; send it again.")
        offset = service.reconcile(media)
        if media.size == 0 and not media.complete:
            offset = service.write_chunk(media, 0, b"")
        answer = {"id": media.id, "offset": offset, "size": media.size, "complete": media.complete}
        return answer, 201 if created else 200, {"Upload-Offset": str(offset), "Upload-Length": str(media.size)}


def _my_media(media_id: int, *, lock: bool = False) -> MediaFile:
    media = db.session.get(MediaFile, media_id, with_for_update=lock or None)
    if media is None or media.station_id != _me().id:
        raise Problem(404, "not-found", f"No media file with id {media_id} from this station.",
                      resource="media", id=media_id)
    return media


@blp.route("/stations/me/media/<bigint:media_id>")
class MyMediaUpload(MethodView):
    @station_token_required
    @blp.doc(
        parameters=[{"name": "Upload-Offset", "in": "header", "required": True, "schema": {"type": "integer"},
                     "description": "Where these bytes start: the offset the server last answered."}],
        requestBody={"required": True, "content": {OFFSET_STREAM: {"schema": {"type": "string", "format": "binary"}}},
                     "description": f"The next bytes, at most {service.MAX_CHUNK} per request."},
        responses={
            "204": {"description": "Stored; `Upload-Offset` says the new offset (== size: complete)."},
            "409": problem_doc("Wrong offset: `Upload-Offset` has the right one"),
            "413": problem_doc("Chunk too large"),
            "415": problem_doc(f"Content-Type is not {OFFSET_STREAM}"),
            "422": problem_doc("checksum-mismatch (offset back to 0), media-type-refused (the bytes are no "
                               "JPEG photo / MJPG AVI or MP4 clip; nothing stored) or more bytes than announced"),
        },
    )
    def patch(self, media_id):
        """Send the next bytes of a file at `Upload-Offset`

        When the last byte arrives the sha256 is checked: a mismatch discards the bytes (422,
        `Upload-Offset: 0`) and the file is sent again from the start. The bytes are checked too
        (the first chunk and the whole file): a photo must be a JPEG, a clip an MJPG AVI or an MP4,
        else 422 `media-type-refused` and nothing is stored.
        """
        if request.mimetype != OFFSET_STREAM:
            raise Problem(415, "unsupported-media-type", f"Send the bytes as {OFFSET_STREAM}.")
        try:
            offset = int(request.headers["Upload-Offset"])
            if offset < 0:
                raise ValueError
        except (KeyError, ValueError):
            raise Problem(400, "upload-offset-required",
                          "Send the Upload-Offset header: the offset the server last answered.") from None
        if (request.content_length or 0) > service.MAX_CHUNK:
            raise Problem(413, "chunk-too-large", f"Send at most {service.MAX_CHUNK} bytes per request.")
        media = _my_media(media_id, lock=True)
        try:
            new_offset = service.write_chunk(media, offset, request.get_data(cache=False))
        except DomainError as error:
            if "offset" not in error.extra:
                raise
            problem = Problem.of(error)  # the offset to go on from, in the header too
            problem.headers["Upload-Offset"] = str(error.extra["offset"])
            raise problem from None
        return "", 204, {"Upload-Offset": str(new_offset), "Cache-Control": "no-store"}

    @station_token_required
    @blp.doc(responses={"200": {"description": "`Upload-Offset`: bytes received; `Upload-Length`: the size"},
                        "404": {"description": "No such file from this station"}})
    def head(self, media_id):
        """How much of a file the server has (`Upload-Offset`, `Upload-Length`)"""
        media = _my_media(media_id)
        offset = service.reconcile(media)
        return "", 200, {"Upload-Offset": str(offset), "Upload-Length": str(media.size), "Cache-Control": "no-store"}


@blp.route("/media/<bigint:media_id>")
class Media(MethodView):
    @roles_required(*SUPERVISORS)
    @blp.doc(responses={
        "200": {"description": "The file, with its content type",
                "content": {"image/jpeg": {"schema": {"type": "string", "format": "binary"}},
                            "video/x-msvideo": {"schema": {"type": "string", "format": "binary"}},
                            "video/mp4": {"schema": {"type": "string", "format": "binary"}}}},
        "404": problem_doc("No such file, or not complete yet"),
    })
    def get(self, media_id):
        """A station's photo or clip, once all its bytes arrived

        Served with the type its bytes show (image/jpeg, video/x-msvideo or video/mp4),
        `X-Content-Type-Options: nosniff` and `Content-Disposition: inline` with a safe file name.
        """
        media = get_or_404(MediaFile, media_id, "media")
        path = service.stored_path(media)
        if not media.complete or not path.exists():
            raise Problem(404, "media-incomplete", "This file has not arrived completely yet.",
                          received=service.reconcile(media), size=media.size)
        with open(path, "rb") as stored:
            content_type = service.verified_type(media.kind, stored.read(service.SNIFF_BYTES))
        # A file whose bytes are no photo or clip (stored before they were checked) is only a download.
        response = send_file(path, mimetype=content_type or "application/octet-stream", conditional=True,
                             etag=media.sha256, max_age=3600)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Content-Disposition"] = content_disposition(
            "inline" if content_type else "attachment", media.filename, media.sha256, content_type)
        return response


def content_disposition(disposition: str, filename: str, sha256: str, content_type: str | None) -> str:
    """`inline; filename="<ASCII>"` (letters, digits, `._-` only), with `filename*` (RFC 5987) for a
    name that is not plain ASCII. The extension is the verified type's."""
    stem = (filename or "").rsplit("/", 1)[-1].rsplit("\\", 1)[-1]
    stem = stem.rsplit(".", 1)[0] if "." in stem else stem
    stem = "".join(ch for ch in stem if ch.isprintable())[:100].strip() or sha256
    extension = service.MEDIA_EXTENSIONS.get(content_type or "", ".bin")
    ascii_stem = re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._") or sha256
    value = f'{disposition}; filename="{ascii_stem}{extension}"'
    if ascii_stem != stem:
        value += f"; filename*=UTF-8''{quote(stem + extension, safe='')}"
    return value
