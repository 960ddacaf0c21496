"""Operations shared by the scenarios and the API. Services flush; the caller commits."""
