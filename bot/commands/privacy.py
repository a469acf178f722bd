"""Your data: /mydata sends a member everything stored about them; /forgetme erases it."""
