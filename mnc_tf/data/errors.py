# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""The one exception the converters raise for a bad record, and its reasons."""

# Reasons, as counted in the converters' summaries.
MISSING_IMAGE = 'missing_image'
CORRUPT_IMAGE = 'corrupt_image'
IMAGE_SIZE_MISMATCH = 'image_size_mismatch'
BOX_OUTSIDE_IMAGE = 'box_outside_image'
MALFORMED_BOX = 'malformed_box'
ZERO_AREA = 'zero_area'
MALFORMED_SEGMENTATION = 'malformed_segmentation'
UNKNOWN_CATEGORY = 'unknown_category'
UNKNOWN_IMAGE_ID = 'unknown_image_id'
DUPLICATE_IMAGE = 'duplicate_image'
MISSING_ANNOTATION = 'missing_annotation'
CORRUPT_ANNOTATION = 'corrupt_annotation'

# Reasons that invalidate the whole image (the others invalidate one instance).
IMAGE_LEVEL_REASONS = frozenset(
    [MISSING_IMAGE, CORRUPT_IMAGE, IMAGE_SIZE_MISMATCH, MISSING_ANNOTATION,
     CORRUPT_ANNOTATION, DUPLICATE_IMAGE])


class InvalidRecordError(ValueError):
  """A record (an image or one of its annotations) that cannot be converted.

  Attributes:
    reason: one of the module-level reason strings.
    image: a description of the image (id and file name), or None.
    annotation_id: the annotation / instance id, or None for image-level
      problems.
    detail: what is wrong, in words.
  """

  def __init__(self, reason, detail, image=None, annotation_id=None):
    self.reason = reason
    self.detail = detail
    self.image = image
    self.annotation_id = annotation_id
    super().__init__(self._message())

  def with_context(self, image=None, annotation_id=None):
    """Returns a copy that names the image and annotation (keeps known ones)."""
    return InvalidRecordError(
        self.reason, self.detail,
        image=self.image if self.image is not None else image,
        annotation_id=(self.annotation_id if self.annotation_id is not None
                       else annotation_id))

  def _message(self):
    where = []
    if self.image is not None:
      where.append('image %s' % self.image)
    if self.annotation_id is not None:
      where.append('annotation id %s' % self.annotation_id)
    prefix = ', '.join(where) if where else 'record'
    return '%s: %s: %s' % (prefix, self.reason, self.detail)

  def __reduce__(self):
    # Picklable across multiprocessing workers.
    return (InvalidRecordError,
            (self.reason, self.detail, self.image, self.annotation_id))
