"""students.py: every student in the gradebook has a name formgrader can show (not "None, None")."""

from __future__ import annotations

from nbgrader.api import Gradebook

from autograder.nbgrader_glue.students import name_students, roster_problem


def names(db) -> dict[str, tuple]:
    with Gradebook(db) as gb:
        return {s.id: (s.last_name, s.first_name, s.email) for s in gb.students}


def test_unnamed_students_are_named_by_id_and_names_given_are_kept(db):
    with Gradebook(db) as gb:
        gb.add_student("ada", first_name="Ada", last_name="Lovelace", email="ada@example.org")
        gb.add_student("bob")  # as nbgrader's autograde adds a student it has not seen
        gb.add_student("cy", last_name="Young")
    name_students(db, "gpt-from-scratch", ["ada", "dee"])
    assert names(db) == {"ada": ("Lovelace", "Ada", "ada@example.org"), "bob": ("bob", "", None),
                         "cy": ("Young", "", None), "dee": ("dee", "", None)}


def test_a_roster_must_name_its_id_column(tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text("ada,Ada,Lovelace\n")
    assert "id" in roster_problem(roster)
    roster.write_text("id,first_name,last_name,email\nada,Ada,Lovelace,\n")
    assert roster_problem(roster) is None
    assert "no such file" in roster_problem(tmp_path / "missing.csv")
