"""Video and live sources, by name: side-by-side DP videos, cameras and network streams, and the frame grabber.

``iter_sbs_video``, ``video_info``, ``VideoSource``  engine/io/sbs_video.py
``CameraSource``, ``CAMERA_LAYOUTS``                 engine/io/camera.py
``FrameGrabber``, ``Grabbed``, ``DROP_POLICIES``     engine/io/grabber.py
``parse_camera``, ``open_capture``, ``redact``, ``split_sbs``, ``VideoSourceError``, ``STREAM_SCHEMES``
                                                     engine/io/capture.py
``pair_to_frame``                                    engine/io/frames.py
"""
from engine.io.camera import CAMERA_LAYOUTS, CameraSource
from engine.io.capture import STREAM_SCHEMES, VideoSourceError, open_capture, parse_camera, redact, split_sbs
from engine.io.frames import pair_to_frame
from engine.io.grabber import DROP_POLICIES, FrameGrabber, Grabbed
from engine.io.sbs_video import VideoSource, iter_sbs_video, video_info

__all__ = ["CAMERA_LAYOUTS", "DROP_POLICIES", "STREAM_SCHEMES", "CameraSource", "FrameGrabber",
           "Grabbed", "VideoSource", "VideoSourceError", "iter_sbs_video", "open_capture",
           "pair_to_frame", "parse_camera", "redact", "split_sbs", "video_info"]
